"""Decision policy, the decision store (the only module that writes), and the HTTP API."""
