"""Connected services (Google Calendar, Gmail, Google Drive, Asana, Slack), one module each behind
one interface (`base.Action`). `service.ConnectorService` (runtime.connectors) runs any action for
a person without a Slack request; `registry` is the one list everything reads; `accounts`,
`tokens` and `oauth` own OAuth, encrypted tokens and their refresh."""
