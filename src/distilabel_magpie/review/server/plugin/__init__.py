"""Modules that run inside argilla-server's own virtualenv (put on its PYTHONPATH by the manager).
They import `argilla_server`, so nothing in the main environment imports them."""
