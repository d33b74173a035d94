from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_customer_unlinking_and_billing_emails"),
    ]

    operations = [
        migrations.AddField(
            model_name="subscription",
            name="last_event_id",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AlterField(
            model_name="webhookevent",
            name="status",
            field=models.CharField(
                choices=[
                    ("received", "Received"),
                    ("processed", "Processed"),
                    ("deferred", "Deferred (waiting for its customer)"),
                    ("failed", "Failed (retried with backoff, then left for staff)"),
                    ("ignored", "Ignored"),
                ],
                db_index=True,
                default="received",
                max_length=20,
            ),
        ),
    ]
