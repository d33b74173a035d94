from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="closing_since",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
    ]
