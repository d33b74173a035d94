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
    ]
