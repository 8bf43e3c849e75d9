"""Changes say their object's connection (see orgportal.history.ObservedChange.connection): the
column is added, filled from each change's handshake, made required, and indexed for the latest
changes of a set of connections."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill(apps, schema_editor):
    Change = apps.get_model("handshakes", "HandshakeChange")
    Parent = apps.get_model("handshakes", "Handshake")
    owner = Parent.objects.filter(pk=OuterRef("handshake_id")).values("connection_id")[:1]
    Change.objects.filter(connection__isnull=True).update(connection_id=Subquery(owner))


class Migration(migrations.Migration):
    dependencies = [
        ("orgportal", "0006_sync_heartbeat"),
        ("handshakes", "0006_search_trigram_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="handshakechange",
            name="connection",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="orgportal.awsconnection",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="handshakechange",
            name="connection",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="orgportal.awsconnection"
            ),
        ),
        migrations.AddIndex(
            model_name="handshakechange",
            index=models.Index(fields=["connection", "observed_at", "id"], name="handshake_change_latest"),
        ),
    ]
