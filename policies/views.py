"""Pages of the organization and its policies. Thin: parse, fetch the connection through
`orgportal.roles` (404 / 403), call a selector or a service, render the page — or only its table
partial when htmx asks. Reads come from the database; changes go through `policies.services`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from handshakes.models import OPEN_STATES, Handshake
from orgportal.models import AwsConnection, Role
from orgportal.roles import get_connection_for_user, roles_on
from orgportal.writepath import action_view

from . import selectors, services
from .forms import (
    AttachPolicyForm,
    CreateOrganizationForm,
    EffectivePolicyForm,
    PolicyForm,
    PolicyTypeForm,
)
from .models import Policy


def _partial(request: HttpRequest, template: str, name: str) -> str:
    """The whole page, or only its named partial for an htmx request (filters, pager)."""
    return f"{template}#{name}" if getattr(request, "htmx", False) else template


def _context(request: HttpRequest, connection: AwsConnection, **extra: Any) -> dict[str, Any]:
    return {"connection": connection, "roles": roles_on(request.user, connection), "Role": Role, **extra}


def _policy_for(connection: AwsConnection, policy_id: str) -> Policy:
    policy = selectors.policy_for(connection, policy_id)
    if policy is None:
        raise Http404("No such policy")
    return policy


def _report(request: HttpRequest, outcome: services.Result) -> None:
    if outcome.ok:
        messages.success(request, outcome.message)
    else:
        messages.error(request, outcome.message)


# --- organization -----------------------------------------------------------------------------


@login_required
def organization(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_connection_for_user(request.user, pk)
    q = request.GET.get("q", "").strip()
    parent_id = request.GET.get("parent", "").strip()
    roots = list(selectors.roots(connection))
    enable_all_features = Handshake.objects.filter(
        connection=connection,
        action__in=["ENABLE_ALL_FEATURES", "APPROVE_ALL_FEATURES"],
        state__in=OPEN_STATES,
        vanished_at__isnull=True,
    ).order_by("expires_at", "id")
    context = _context(
        request,
        connection,
        roots=[{"root": root, "types": selectors.policy_type_rows(root)} for root in roots],
        org_units=selectors.org_units(connection, q=q, parent_id=parent_id),
        accounts=selectors.paginate(selectors.accounts(connection, q=q, parent_id=parent_id), request.GET.get("page")),
        q=q,
        parent_id=parent_id,
        all_features_approvals=[h for h in enable_all_features if h.action == "APPROVE_ALL_FEATURES"],
        all_features_requests=[h for h in enable_all_features if h.action == "ENABLE_ALL_FEATURES"],
        create_form=CreateOrganizationForm() if not connection.organization_id else None,
    )
    return render(request, _partial(request, "policies/organization.html", "members"), context)


# Action views: GET shows the form or the confirmation, POST acts. Each acts on the connection
# named in the URL (the one object the role-matrix test reverses them with); the root, policy
# and target are form fields, so bad or missing input is a 422 with the form again, nothing sent.


@action_view(role=Role.ADMIN, target="connection")
def organization_create(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_connection_for_user(request.user, pk, Role.ADMIN)
    form = CreateOrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = services.organization_create(
            connection=connection, actor=request.user, request=request, feature_set=form.cleaned_data["feature_set"]
        )
        _report(request, result)
        return redirect("organization", pk=connection.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "policies/organization_create.html", _context(request, connection, form=form), status=status)


def _policy_type_change(request: HttpRequest, pk: int, enable: bool) -> HttpResponse:
    """GET: the confirmation (what the type governs); POST with the confirmation: Enable/DisablePolicyType."""
    connection = get_connection_for_user(request.user, pk, Role.ADMIN)
    data = request.POST if request.method == "POST" else None
    initial = {"policy_type": request.GET.get("type", ""), "root_id": request.GET.get("root", "")}
    form = PolicyTypeForm(data, initial=initial, roots=[r.root_id for r in selectors.roots(connection)])
    policy_type = (request.POST.get("policy_type") or request.GET.get("type", "")).strip()
    root_id = (request.POST.get("root_id") or request.GET.get("root", "")).strip()
    root = selectors.roots(connection).filter(root_id=root_id).first()
    if request.method == "POST" and form.is_valid() and root is not None:
        _report(
            request,
            services.policy_type_set(
                connection=connection,
                actor=request.user,
                request=request,
                root=root,
                policy_type=form.cleaned_data["policy_type"],
                enable=enable,
            ),
        )
        return redirect("organization", pk=connection.pk)
    known = policy_type in selectors.policy_types() and root is not None
    context = _context(
        request,
        connection,
        form=form,
        root=root,
        info=selectors.policy_type_info(policy_type) if known else None,
        action="enable" if enable else "disable",
        status=root.policy_type_status(policy_type) if known and root else "",
    )
    status = 200 if request.method == "GET" and known else 422
    return render(request, "policies/policy_type_confirm.html", context, status=status)


@action_view(role=Role.ADMIN, target="connection")
def policy_type_enable(request: HttpRequest, pk: int) -> HttpResponse:
    return _policy_type_change(request, pk, enable=True)


@action_view(role=Role.ADMIN, target="connection")
def policy_type_disable(request: HttpRequest, pk: int) -> HttpResponse:
    return _policy_type_change(request, pk, enable=False)


# --- policies ---------------------------------------------------------------------------------


@login_required
def policy_list(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_connection_for_user(request.user, pk)
    policy_type = request.GET.get("type", "")
    if policy_type and policy_type not in selectors.policy_types():
        policy_type = ""
    q = request.GET.get("q", "").strip()
    page = selectors.paginate(selectors.policies(connection, policy_type=policy_type, q=q), request.GET.get("page"))
    context = _context(
        request,
        connection,
        page=page,
        q=q,
        policy_type=policy_type,
        type_choices=[selectors.policy_type_info(t) for t in selectors.policy_types()],
    )
    return render(request, _partial(request, "policies/policy_list.html", "rows"), context)


@action_view(role=Role.ADMIN, target="connection")
def policy_create(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_connection_for_user(request.user, pk, Role.ADMIN)
    form = PolicyForm(request.POST or None, initial={"type": request.GET.get("type", "")})
    if request.method == "POST" and form.is_valid():
        result = services.policy_create(
            connection=connection,
            actor=request.user,
            request=request,
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
            policy_type=form.cleaned_data["type"],
            content=form.cleaned_data["content"],
        )
        _report(request, result)
        if result.ok and result.policy is not None:
            return redirect("policy_detail", pk=connection.pk, policy_id=result.policy.policy_id)
        return render(
            request, "policies/policy_form.html", _context(request, connection, form=form, policy=None), status=400
        )
    status = 422 if request.method == "POST" else 200
    return render(
        request, "policies/policy_form.html", _context(request, connection, form=form, policy=None), status=status
    )


@login_required
def policy_detail(request: HttpRequest, pk: int, policy_id: str) -> HttpResponse:
    connection = get_connection_for_user(request.user, pk)
    policy = _policy_for(connection, policy_id)
    attached = selectors.attachments(policy)
    attached_ids = {a.target_id for a in attached}
    choices = [(tid, label) for tid, label in selectors.targets(connection) if tid not in attached_ids]
    context = _context(
        request,
        connection,
        policy=policy,
        info=selectors.policy_type_info(policy.type),
        attachments=attached,
        attach_form=AttachPolicyForm(targets=choices) if choices else None,
    )
    return render(request, "policies/policy_detail.html", context)


def _chosen_policy(request: HttpRequest, connection: AwsConnection) -> Policy | None:
    policy_id = (request.POST.get("policy_id") or request.GET.get("policy", "")).strip()
    return selectors.policy_for(connection, policy_id) if policy_id else None


def _no_policy(request: HttpRequest, connection: AwsConnection) -> HttpResponse:
    return render(
        request,
        "policies/policy_confirm.html",
        _context(request, connection, policy=None, problem="Choose a policy of this organization first."),
        status=422,
    )


@action_view(role=Role.ADMIN, target="connection")
def policy_update(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_connection_for_user(request.user, pk, Role.ADMIN)
    policy = _chosen_policy(request, connection)
    if policy is None:
        return _no_policy(request, connection)
    initial = {"name": policy.name, "description": policy.description, "content": policy.pretty_content}
    form = PolicyForm(request.POST or None, initial=initial, update=True)
    if request.method == "POST" and form.is_valid():
        result = services.policy_update(
            policy=policy,
            actor=request.user,
            request=request,
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
            content=form.cleaned_data["content"],
        )
        _report(request, result)
        if result.ok:
            return redirect("policy_detail", pk=connection.pk, policy_id=policy.policy_id)
        return render(
            request, "policies/policy_form.html", _context(request, connection, form=form, policy=policy), status=400
        )
    status = 422 if request.method == "POST" else 200
    return render(
        request, "policies/policy_form.html", _context(request, connection, form=form, policy=policy), status=status
    )


def _policy_change(request: HttpRequest, pk: int, change: str) -> HttpResponse:
    """delete / attach / detach: GET (or a POST without `confirm`) shows what will be sent."""
    connection = get_connection_for_user(request.user, pk, Role.ADMIN)
    policy = _chosen_policy(request, connection)
    if policy is None:
        return _no_policy(request, connection)
    target_id = (request.POST.get("target_id") or request.GET.get("target", "")).strip()
    target = selectors.target_name(connection, target_id) if target_id else None
    problem = ""
    if change != "delete" and target is None:
        problem = "Choose a root, organizational unit or account of this organization."
    if request.method == "POST" and not problem and request.POST.get("confirm"):
        if change == "delete":
            result = services.policy_delete(policy=policy, actor=request.user, request=request)
        elif change == "attach":
            result = services.policy_attach(policy=policy, target_id=target_id, actor=request.user, request=request)
        else:
            result = services.policy_detach(policy=policy, target_id=target_id, actor=request.user, request=request)
        _report(request, result)
        if result.ok and change == "delete":
            return redirect(reverse("policy_list", kwargs={"pk": connection.pk}) + f"?type={policy.type}")
        return redirect("policy_detail", pk=connection.pk, policy_id=policy.policy_id)
    context = _context(
        request,
        connection,
        policy=policy,
        change=change,
        target_id=target_id,
        target=target,
        info=selectors.policy_type_info(policy.type),
        problem=problem,
    )
    status = 422 if problem or request.method == "POST" else 200
    return render(request, "policies/policy_confirm.html", context, status=status)


@action_view(role=Role.ADMIN, target="connection")
def policy_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return _policy_change(request, pk, "delete")


@action_view(role=Role.ADMIN, target="connection")
def policy_attach(request: HttpRequest, pk: int) -> HttpResponse:
    return _policy_change(request, pk, "attach")


@action_view(role=Role.ADMIN, target="connection")
def policy_detach(request: HttpRequest, pk: int) -> HttpResponse:
    return _policy_change(request, pk, "detach")


@login_required
def target_policies(request: HttpRequest, pk: int, target_id: str) -> HttpResponse:
    """The policies attached directly to a root, OU or account (ListPoliciesForTarget, cached)."""
    connection = get_connection_for_user(request.user, pk)
    target = selectors.target_name(connection, target_id)
    if target is None:
        raise Http404("No such target")
    policy_type = request.GET.get("type", "")
    if policy_type and policy_type not in selectors.policy_types():
        policy_type = ""
    page = selectors.paginate(
        selectors.policies_for_target(connection, target_id, policy_type=policy_type), request.GET.get("page")
    )
    context = _context(
        request,
        connection,
        target_id=target_id,
        target_type=target[0],
        target_label=target[1],
        page=page,
        policy_type=policy_type,
        type_choices=[selectors.policy_type_info(t) for t in selectors.policy_types()],
        effective_types=selectors.effective_policy_types(),
    )
    return render(request, _partial(request, "policies/target_policies.html", "rows"), context)


# --- effective policies -----------------------------------------------------------------------


@login_required
def effective_policy(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_connection_for_user(request.user, pk)
    form = EffectivePolicyForm(request.GET or None)
    form.fields["account_id"].widget.attrs["list"] = "accounts"
    found = None
    asked = False
    if form.is_valid():
        asked = True
        found = selectors.effective_policy(
            connection, form.cleaned_data["account_id"], form.cleaned_data["policy_type"]
        )
    context = _context(
        request,
        connection,
        form=form,
        asked=asked,
        effective=found,
        account_choices=selectors.accounts(connection)[:500],
        account_name=(
            selectors.account_names(connection, [form.cleaned_data["account_id"]]).get(form.cleaned_data["account_id"])
            if asked
            else None
        ),
    )
    return render(request, "policies/effective_policy.html", context)


@action_view(role=Role.VIEWER, target="connection")
def effective_policy_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    """Read DescribeEffectivePolicy now for one account and type (a read: any role that may view).
    GET, or a POST without both fields, shows the form again (422 when something is missing)."""
    connection = get_connection_for_user(request.user, pk)
    form = EffectivePolicyForm(request.POST if request.method == "POST" else (request.GET or None))
    if request.method == "POST" and form.is_valid():
        account_id = form.cleaned_data["account_id"]
        policy_type = form.cleaned_data["policy_type"]
        result = services.effective_policy_refresh(
            connection=connection, account_id=account_id, policy_type=policy_type, actor=request.user, request=request
        )
        if not result.ok:
            messages.error(request, result.message)
        return redirect(
            reverse("effective_policy", kwargs={"pk": connection.pk})
            + f"?account_id={account_id}&policy_type={policy_type}"
        )
    context = _context(
        request,
        connection,
        form=form,
        asked=False,
        effective=None,
        account_choices=selectors.accounts(connection)[:500],
        account_name=None,
    )
    return render(request, "policies/effective_policy.html", context, status=200 if request.method == "GET" else 422)


@login_required
def invalid_effective_policies(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_connection_for_user(request.user, pk)
    policy_type = request.GET.get("type", "")
    if policy_type and policy_type not in selectors.effective_policy_types():
        policy_type = ""
    rows = selectors.invalid_effective_policies([connection], policy_type=policy_type)
    page = selectors.paginate(rows, request.GET.get("page"))
    names = selectors.account_names(connection, [row.account_id for row in page])
    for row in page:
        row.account_name = names.get(row.account_id, "")  # type: ignore[attr-defined]
    context = _context(
        request,
        connection,
        page=page,
        policy_type=policy_type,
        type_choices=[selectors.policy_type_info(t) for t in selectors.effective_policy_types()],
    )
    return render(request, _partial(request, "policies/invalid_effective_policies.html", "rows"), context)
