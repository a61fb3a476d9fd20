"""The tests of suqiu, against real IMAP, SMTP and database servers."""
