"""Connected services (Google Calendar, Gmail, Drive, Asana, Slack), one module each behind one
interface. They arrive with workflows; nothing here yet."""
