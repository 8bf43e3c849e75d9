"""The database refuses UPDATE and DELETE on audit events; the chain head row exists."""

from django.db import migrations


def install_guard(apps, schema_editor):
    from audit import guard

    guard.install(schema_editor.connection)


def remove_guard(apps, schema_editor):
    from audit import guard

    guard.remove(schema_editor.connection)


def create_head(apps, schema_editor):
    apps.get_model("audit", "AuditChainHead").objects.using(schema_editor.connection.alias).get_or_create(pk=1)


class Migration(migrations.Migration):

    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RunPython(create_head, migrations.RunPython.noop),
        migrations.RunPython(install_guard, remove_guard),
    ]
