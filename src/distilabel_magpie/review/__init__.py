"""Human review in Argilla: a local review server, push steps (SFT, chat, preference) and pulling
reviewed data back. The steps need the `review` extra (`argilla==2.8.0`); the server manager does not."""
