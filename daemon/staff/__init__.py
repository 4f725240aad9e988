"""Letters from staff: authentication, commands, the reply relayed to the client."""
