"""Keyed row hashes (the key's id on each row; rows before it stay plain SHA-256) and the guard
extended to the chain head, with every PostgreSQL trigger ENABLE ALWAYS."""

from django.db import migrations, models


def install_guard(apps, schema_editor):
    from audit import guard

    guard.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_append_only"),
    ]

    operations = [
        # Unapplying: SQLite rebuilds the table to drop the column, and its triggers with it.
        migrations.RunPython(migrations.RunPython.noop, install_guard),
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(blank=True, max_length=16, null=True),
        ),
        migrations.RunPython(install_guard, migrations.RunPython.noop),
    ]
