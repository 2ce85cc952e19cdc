"""VoC Monitor (客声): shared record models, settings and the `voc` command line."""
