"""The alerting side of the sampler: states and alarms stored with the readings, their e-mails, the sender."""
