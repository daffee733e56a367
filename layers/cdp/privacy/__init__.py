"""The person's rights and choices: zero-party forms and the preference center, the access
export, erasure and the suppression that keeps the erased out. (Consent itself is kept on the
profile: `cdp.profiles.consent`.)"""
