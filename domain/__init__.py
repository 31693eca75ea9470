"""The pure core of Pathway: events, case state, pathway rules, tasks and SLA policy.

Nothing in this package does I/O or imports another Pathway package, so it is safe to import
inside the Temporal workflow sandbox and fast to test.
"""
