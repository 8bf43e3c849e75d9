"""The inbox (home page): what needs someone's answer, recent changes, each connection's freshness."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    return render(request, "orgportal/inbox.html", {})
