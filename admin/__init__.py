"""The operators' side: console logic shared by the web console and the admin bot, reports."""
