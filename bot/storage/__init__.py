"""Storage: engine, models, migrations, encryption and repositories (the only code that speaks SQL)."""
