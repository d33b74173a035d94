from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_team_billing"),
    ]

    operations = [
        migrations.CreateModel(
            name="SubscriptionSchedule",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("stripe_schedule_id", models.CharField(max_length=255, unique=True)),
                (
                    "stripe_subscription_id",
                    models.CharField(blank=True, db_index=True, max_length=255),
                ),
                ("status", models.CharField(max_length=20)),
                ("next_price_id", models.CharField(blank=True, max_length=255)),
                (
                    "next_phase_at",
                    models.DateTimeField(
                        blank=True, help_text="When the next phase (the new plan) starts.", null=True
                    ),
                ),
                ("last_event_at", models.DateTimeField(blank=True, null=True)),
                ("last_event_type", models.CharField(blank=True, max_length=100)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={"ordering": ["-created_at"]},
        ),
    ]
