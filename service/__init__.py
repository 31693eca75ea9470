"""The trust boundary: the one way the API, the web pages, the CLI, the demo seed and jobs read or
change a case (DESIGN.md, "The trust boundary"). Every call: who is asking (identity.py), may they
(domain/access.py), sealing at the edge (store/sealing.py, through cases.py), and the access record."""
