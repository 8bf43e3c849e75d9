"""Pages of the organization and its policies, and their action views.

Thin, like every area's: parse, fetch the connection through `orgportal.roles` (404 / 403), call a
selector or a service, render the page — or only its `#rows` partial when `request.htmx`. Lists
page by keyset (`orgportal.listing.keyset_page`); a query-string value the page cannot use (a
type AWS does not know, a damaged page link) is a 400 that says what was ignored, with the page
shown as it can be. Actions run the one action-view flow (`orgportal.action_views.run_action`):
the form, then the review of exactly what will be sent, then the service. Reads come from the
database; changes go through `policies.services`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from handshakes.selectors import open_all_features_handshakes
from orgportal.action_forms import ActionForm
from orgportal.action_views import ACTION_TEMPLATE, run_action
from orgportal.listing import Ordering, Sort, keyset_page
from orgportal.models import AwsConnection, Role
from orgportal.pages import HtmxHttpRequest
from orgportal.roles import connections_for, get_connection_for_user, request_roles_on
from orgportal.writepath import ActionFailed, action_view

from . import selectors, services
from .forms import (
    CreateOrganizationForm,
    EffectivePolicyForm,
    PolicyActionForm,
    PolicyForm,
    PolicyTargetForm,
    PolicyTypeForm,
)
from .models import Policy

# Every list of these pages reads by name (then id), A to Z.
BY_NAME = Ordering(Sort("name", "name", "Name"), descending=False)
BY_ACCOUNT = Ordering(Sort("account", "account_id", "Account"), descending=False)


# The session key of the organization last opened: the Organization tab opens it again.
LAST_ORGANIZATION = "organization_connection"
T = TypeVar("T")


def _context(request: HtmxHttpRequest, connection: AwsConnection, **extra: Any) -> dict[str, Any]:
    """What every organization page shows beside its own rows; opening one remembers it."""
    request.session[LAST_ORGANIZATION] = connection.pk
    return {"connection": connection, "roles": request_roles_on(request, connection), "Role": Role, **extra}


def _text(request: HtmxHttpRequest, name: str, notices: list[str], *, allowed: list[str] | None = None) -> str:
    """The query-string value `name`, stripped; '' (and a notice) when the page cannot use it."""
    value = request.GET.get(name, "").strip()
    if "\x00" in value or len(value) > 256:
        notices.append(f"Ignored the {name} filter: it is not text a search can use.")
        return ""
    if value and allowed is not None and value not in allowed:
        notices.append(f"Ignored the {name} “{value}”: choose one of the listed types.")
        return ""
    return value


def _found(value: T | None, missing: str) -> T:
    """`value`, or a 404 saying `missing` where the page's object does not exist."""
    if value is None:
        raise Http404(missing)
    return value


def _type_filter(request: HtmxHttpRequest, types: list[str]) -> tuple[list[str], dict[str, Any]]:
    """A list's policy type filter: the notices so far (one when the page cannot use the type
    asked for) and the context: that type among `types` ('' for every type), the choices offered."""
    notices: list[str] = []
    policy_type = _text(request, "type", notices, allowed=types)
    return notices, {"policy_type": policy_type, "type_choices": [selectors.policy_type_info(t) for t in types]}


def _list_page(
    request: HtmxHttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    rows: QuerySet[Any],
    ordering: Ordering = BY_NAME,
    notices: list[str],
    name: str = "page",
    annotate: Callable[[list[Any]], None] | None = None,
) -> HttpResponse:
    """A page of `rows` from the URL's cursor, in the whole `template` or (htmx) its `#rows`;
    `annotate` attaches what the rows show beside their own fields (one query for the page)."""
    page = keyset_page(rows, ordering, request.GET.get("cursor"))
    if annotate is not None:
        annotate(page.rows)
    notices = notices + page.notices
    if request.htmx:
        template += "#rows"
    return render(request, template, {**context, name: page, "notices": notices}, status=400 if notices else 200)


# --- organization -----------------------------------------------------------------------------


@login_required
@require_GET
def organization_home(request: HtmxHttpRequest) -> HttpResponse:
    """The Organization tab and the pages' switcher: the connection named in `connection` (404 if
    unseen), else the one this session used last while the user may still read it, else the first."""
    named = request.GET.get("connection")
    if named:
        return redirect("organization", get_connection_for_user(request.user, named).pk)
    readable = connections_for(request.user)
    remembered = request.session.get(LAST_ORGANIZATION)
    last = readable.filter(pk=remembered).first() if isinstance(remembered, int) else None
    connection = _found(
        last or readable.order_by("name", "pk").first(),
        "No connection yet: an administrator adds one and gives you a role on it.",
    )
    return redirect("organization", connection.pk)


@login_required
@require_GET
def organization(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    connection = get_connection_for_user(request.user, pk)
    notices: list[str] = []
    q = _text(request, "q", notices)
    parent_id = _text(request, "parent", notices)
    enable_all_features = open_all_features_handshakes(connection)
    context = _context(
        request,
        connection,
        roots=[{"root": root, "types": selectors.policy_type_rows(root)} for root in selectors.roots(connection)],
        org_units=selectors.org_units(connection, q=q, parent_id=parent_id),
        q=q,
        parent_id=parent_id,
        all_features_approvals=[h for h in enable_all_features if h.action == "APPROVE_ALL_FEATURES"],
        all_features_requests=[h for h in enable_all_features if h.action == "ENABLE_ALL_FEATURES"],
        create_form=CreateOrganizationForm() if not connection.organization_id else None,
    )
    rows = selectors.accounts(connection, q=q, parent_id=parent_id)
    return _list_page(request, "policies/organization.html", context, rows=rows, notices=notices, name="accounts")


# --- actions ----------------------------------------------------------------------------------
# GET shows the form (or, when there is nothing to enter, the review); each acts on the
# connection named in the URL (the one object the role-matrix test reverses them with); the root,
# policy and target are form fields, so bad or missing input is a 422 with the form again.


def _run(
    request: HtmxHttpRequest,
    connection: AwsConnection,
    *,
    form: ActionForm,
    title: str,
    verb: str,
    operation: str,
    params: Callable[[ActionForm], dict[str, Any]],
    perform: Callable[[ActionForm], services.Done],
    next_url: str,
    done_url: Callable[[services.Done], str] | None = None,
    **summary: Any,
) -> HttpResponse:
    """The one action-view flow with what every policy action shows: its summary partial."""
    return run_action(
        request,
        form=form,
        context={
            "title": title,
            "verb": verb,
            "connection": connection,
            "summary": "policies/_action_summary.html",
            **summary,
        },
        operation=operation,
        params=params,
        perform=perform,
        success=lambda done: done.message,
        next_url=next_url,
        done_url=done_url,
    )


def _organization_url(connection: AwsConnection) -> str:
    return reverse("organization", kwargs={"pk": connection.pk})


def _policy_url(connection: AwsConnection, policy: Policy) -> str:
    return reverse("policy_detail", kwargs={"pk": connection.pk, "policy_id": policy.policy_id})


def _chosen_policy(request: HtmxHttpRequest, pk: int) -> tuple[AwsConnection, Policy | None]:
    """The connection `pk` of a policy action (Admin role) and the policy the form posted
    (`policy_id`) or the link named (`?policy=`), None when neither names one of its policies."""
    connection = get_connection_for_user(request.user, pk, Role.ADMIN)
    policy_id = (request.POST.get("policy_id") or request.GET.get("policy", "")).strip()
    return connection, selectors.policy_for(connection, policy_id) if policy_id else None


def _no_policy(request: HtmxHttpRequest, connection: AwsConnection, title: str) -> HttpResponse:
    refusal = {"message": "Choose a policy of this organization first (from the policies list)."}
    context = _context(request, connection, title=title, refusal=refusal, next=_organization_url(connection))
    return render(request, ACTION_TEMPLATE, context, status=422)


@action_view(role=Role.ADMIN, target="connection")
def organization_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    connection = get_connection_for_user(request.user, pk, Role.ADMIN)
    return _run(
        request,
        connection,
        form=CreateOrganizationForm(request.POST or None),
        title=f"Create an organization for {connection.name}",
        verb="create",
        intro="The account of this connection becomes the management account of a new organization. "
        "Billing transfers and policies need all features.",
        operation="CreateOrganization",
        params=lambda f: {"FeatureSet": f.cleaned_data["feature_set"]},
        perform=lambda f: services.organization_create(
            connection=connection, actor=request.user, request=request, feature_set=f.cleaned_data["feature_set"]
        ),
        next_url=_organization_url(connection),
    )


@action_view(role=Role.ADMIN, target="connection")
def policy_type_change(request: HtmxHttpRequest, pk: int, enable: bool) -> HttpResponse:
    """Enable/DisablePolicyType on a root (`enable` comes from the URL): the review shows what the
    type governs beside the call."""
    connection = get_connection_for_user(request.user, pk, Role.ADMIN)
    roots = selectors.roots(connection)
    policy_type = (request.POST.get("policy_type") or request.GET.get("type", "")).strip()
    root_id = (request.POST.get("root_id") or request.GET.get("root", "")).strip()
    root = roots.filter(root_id=root_id).first() if root_id and "\x00" not in root_id else None
    known = root is not None and policy_type in selectors.policy_types()
    form = PolicyTypeForm(
        request.POST or None, initial={"policy_type": policy_type, "root_id": root_id}, roots=[r.root_id for r in roots]
    )
    verb = "enable" if enable else "disable"

    def perform(f: ActionForm) -> services.Done:
        chosen = roots.get(root_id=f.cleaned_data["root_id"])
        return services.policy_type_set(
            connection=connection,
            actor=request.user,
            request=request,
            root=chosen,
            policy_type=f.cleaned_data["policy_type"],
            enable=enable,
        )

    return _run(
        request,
        connection,
        form=form,
        title=f"{verb.capitalize()} a policy type",
        verb=verb,
        # With the root and type known there is nothing to enter: straight to the review.
        confirm_only=known,
        danger=not enable,
        root=root if known else None,
        info=selectors.policy_type_info(policy_type) if known else None,
        status=root.policy_type_status(policy_type) if known and root else "",
        operation="EnablePolicyType" if enable else "DisablePolicyType",
        params=lambda f: {"RootId": root_id, "PolicyType": policy_type},
        perform=perform,
        next_url=_organization_url(connection),
    )


def _policy_edit(request: HtmxHttpRequest, connection: AwsConnection, policy: Policy | None) -> HttpResponse:
    """CreatePolicy (`policy` None) or UpdatePolicy: the same form, the type only when creating."""
    if policy is None:
        form = PolicyForm(request.POST or None, initial={"type": request.GET.get("type", "")})
    else:
        initial = {"policy_id": policy.policy_id, "name": policy.name, "description": policy.description}
        form = PolicyForm(request.POST or None, initial={**initial, "content": policy.pretty_content}, update=True)

    def perform(f: ActionForm) -> services.Done:
        fields = form.service_fields()
        if policy is None:
            return services.policy_create(connection=connection, actor=request.user, request=request, **fields)
        return services.policy_update(policy=policy, actor=request.user, request=request, **fields)

    return _run(
        request,
        connection,
        form=form,
        title=f"Edit {policy.name}" if policy else "New policy",
        verb="save" if policy else "create",
        intro="The content is checked as JSON before anything is sent; AWS then checks it against the type's syntax.",
        policy=policy,
        info=selectors.policy_type_info(policy.type) if policy else None,
        operation="UpdatePolicy" if policy else "CreatePolicy",
        params=lambda f: form.aws_params(policy),
        perform=perform,
        next_url=_policy_url(connection, policy) if policy else reverse("policy_list", kwargs={"pk": connection.pk}),
        done_url=lambda done: _policy_url(connection, done.policy) if done.policy else _organization_url(connection),
    )


@action_view(role=Role.ADMIN, target="connection")
def policy_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _policy_edit(request, get_connection_for_user(request.user, pk, Role.ADMIN), None)


@action_view(role=Role.ADMIN, target="connection")
def policy_update(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    connection, policy = _chosen_policy(request, pk)
    if policy is None:
        return _no_policy(request, connection, "Edit a policy")
    return _policy_edit(request, connection, policy)


@action_view(role=Role.ADMIN, target="connection")
def policy_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    connection, policy = _chosen_policy(request, pk)
    if policy is None:
        return _no_policy(request, connection, "Delete a policy")
    form = PolicyActionForm(request.POST or None, initial={"policy_id": policy.policy_id})
    return _run(
        request,
        connection,
        form=form,
        title=f"Delete {policy.name}",
        verb="delete",
        confirm_only=True,
        danger=True,
        policy=policy,
        info=selectors.policy_type_info(policy.type),
        effect="The policy is deleted in AWS. AWS refuses while it is attached anywhere.",
        operation="DeletePolicy",
        params=lambda f: {"PolicyId": policy.policy_id},
        perform=lambda f: services.policy_delete(policy=policy, actor=request.user, request=request),
        next_url=_policy_url(connection, policy),
        done_url=lambda done: reverse("policy_list", kwargs={"pk": connection.pk}) + f"?type={policy.type}",
    )


@action_view(role=Role.ADMIN, target="connection")
def policy_target_change(request: HtmxHttpRequest, pk: int, attach: bool) -> HttpResponse:
    """Attach / DetachPolicy (`attach` comes from the URL): the target is chosen among those the
    policy is not (or is) attached to."""
    connection, policy = _chosen_policy(request, pk)
    verb = "attach" if attach else "detach"
    if policy is None:
        return _no_policy(request, connection, f"{verb.capitalize()} a policy")
    attached = {a.target_id for a in selectors.attachments(policy)}
    targets = [(tid, label) for tid, label in selectors.targets(connection) if (tid in attached) != attach]
    target_id = (request.POST.get("target_id") or request.GET.get("target", "")).strip()
    target = selectors.target_name(connection, target_id) if target_id else None
    form = PolicyTargetForm(
        request.POST or None, initial={"policy_id": policy.policy_id, "target_id": target_id}, targets=targets
    )
    below = " and every account below it" if target and target[0] != "ACCOUNT" else ""
    if attach:
        effect = f"From now on {target_id}{below} inherits this policy."
    else:
        effect = f"{target_id}{below} stops inheriting this policy."
    return _run(
        request,
        connection,
        form=form,
        title=f"{verb.capitalize()} {policy.name}",
        verb=verb,
        danger=not attach,
        policy=policy,
        target=target,
        target_id=target_id,
        info=selectors.policy_type_info(policy.type),
        effect=effect if target else "",
        operation="AttachPolicy" if attach else "DetachPolicy",
        params=lambda f: {"PolicyId": policy.policy_id, "TargetId": f.cleaned_data["target_id"]},
        perform=lambda f: services.policy_attachment_set(
            policy=policy, target_id=f.cleaned_data["target_id"], actor=request.user, request=request, attach=attach
        ),
        next_url=_policy_url(connection, policy),
    )


# --- policies ---------------------------------------------------------------------------------


@login_required
@require_GET
def policy_list(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    connection = get_connection_for_user(request.user, pk)
    notices, typed = _type_filter(request, selectors.policy_types())
    q = _text(request, "q", notices)
    context = _context(request, connection, q=q, **typed)
    rows = selectors.policies(connection, policy_type=typed["policy_type"], q=q)
    return _list_page(request, "policies/policy_list.html", context, rows=rows, notices=notices)


@login_required
@require_GET
def policy_detail(request: HtmxHttpRequest, pk: int, policy_id: str) -> HttpResponse:
    connection = get_connection_for_user(request.user, pk)
    policy = _found(selectors.policy_for(connection, policy_id), "No such policy")
    attached = selectors.attachments(policy)
    attached_ids = {a.target_id for a in attached}
    choices = [(tid, label) for tid, label in selectors.targets(connection) if tid not in attached_ids]
    attach_form = PolicyTargetForm(initial={"policy_id": policy.policy_id}, targets=choices) if choices else None
    context = _context(
        request,
        connection,
        policy=policy,
        info=selectors.policy_type_info(policy.type),
        attachments=attached,
        attach_form=attach_form,
        timeline=selectors.policy_timeline(policy),
    )
    return render(request, "policies/policy_detail.html", context)


@login_required
@require_GET
def target_policies(request: HtmxHttpRequest, pk: int, target_id: str) -> HttpResponse:
    """The policies attached directly to a root, OU or account (ListPoliciesForTarget, cached)."""
    connection = get_connection_for_user(request.user, pk)
    target = _found(selectors.target_name(connection, target_id), "No such target")
    notices, typed = _type_filter(request, selectors.policy_types())
    context = _context(
        request,
        connection,
        target_id=target_id,
        target_type=target[0],
        target_label=target[1],
        effective_types=selectors.effective_policy_types(),
        **typed,
    )
    rows = selectors.policies_for_target(connection, target_id, policy_type=typed["policy_type"])
    return _list_page(request, "policies/target_policies.html", context, rows=rows, notices=notices)


# --- effective policies -----------------------------------------------------------------------


def _effective_page(
    request: HtmxHttpRequest, connection: AwsConnection, form: EffectivePolicyForm, *, asked: bool, status: int
) -> HttpResponse:
    account_id = form.cleaned_data["account_id"] if asked else ""
    context = _context(
        request,
        connection,
        form=form,
        asked=asked,
        effective=selectors.effective_policy(connection, account_id, form.cleaned_data["policy_type"])
        if asked
        else None,
        account_choices=selectors.accounts(connection)[:500],
        account_name=selectors.account_names(connection, [account_id]).get(account_id) if asked else None,
    )
    return render(request, "policies/effective_policy.html", context, status=status)


@login_required
@require_GET
def effective_policy(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    connection = get_connection_for_user(request.user, pk)
    form = EffectivePolicyForm(request.GET or None)
    form.fields["account_id"].widget.attrs["list"] = "accounts"
    asked = form.is_valid()
    return _effective_page(request, connection, form, asked=asked, status=400 if form.is_bound and not asked else 200)


@action_view(role=Role.VIEWER, target="connection")
def effective_policy_refresh(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Read DescribeEffectivePolicy now for one account and type (a read: any role that may view).
    GET, or a POST without both fields, shows the form again (422 when something is missing)."""
    connection = get_connection_for_user(request.user, pk)
    form = EffectivePolicyForm(request.POST if request.method == "POST" else (request.GET or None))
    if request.method == "POST" and form.is_valid():
        account_id = form.cleaned_data["account_id"]
        policy_type = form.cleaned_data["policy_type"]
        try:
            services.effective_policy_refresh(
                connection=connection,
                account_id=account_id,
                policy_type=policy_type,
                actor=request.user,
                request=request,
            )
        except ActionFailed as failure:
            messages.error(request, f"{failure.message} (AWS error {failure.code})")
        return redirect(
            reverse("effective_policy", kwargs={"pk": connection.pk})
            + f"?account_id={account_id}&policy_type={policy_type}"
        )
    return _effective_page(request, connection, form, asked=False, status=200 if request.method == "GET" else 422)


@login_required
@require_GET
def invalid_effective_policies(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    connection = get_connection_for_user(request.user, pk)
    notices, typed = _type_filter(request, selectors.effective_policy_types())

    def name_accounts(rows: list[Any]) -> None:
        names = selectors.account_names(connection, [row.account_id for row in rows])
        for row in rows:
            row.account_name = names.get(row.account_id, "")

    context = _context(request, connection, **typed)
    rows = selectors.invalid_effective_policies([connection], policy_type=typed["policy_type"])
    return _list_page(
        request,
        "policies/invalid_effective_policies.html",
        context,
        rows=rows,
        ordering=BY_ACCOUNT,
        notices=notices,
        annotate=name_accounts,
    )
