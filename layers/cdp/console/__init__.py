"""The web console's domain: who is signed in and what their role allows, what a view shows of
a person (whole or masked), and the audit log of what was done with a person's data."""
