"""Who may call the platform: sources and their write keys, secret keys, all stored hashed."""
