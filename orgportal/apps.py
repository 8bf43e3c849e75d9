"""App config of the project app: connections, roles, the AWS gateway, the base layout."""

from django.apps import AppConfig


class OrgportalConfig(AppConfig):
    name = "orgportal"
    verbose_name = "orgportal"
