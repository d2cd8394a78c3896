"""gunicorn's settings for the LMS: ``gunicorn wsgi:app`` run from the repository root reads them.

Flags on the command line override them (``--workers 8``, ``--bind 0.0.0.0:8000``). The figures
behind the choices are in docs/performance.md ("Pages under load").

- Two processes per CPU, two threads each: rendering a page is Python work that holds the GIL,
  so processes use the cores; the second thread keeps a worker answering while the first waits
  for the database or for a slow upload or download.
- One connection per request (no keep-alive, and a worker takes no new connection while both of
  its threads are busy). A kept-alive connection stays with the worker that accepted it, and
  with a few busy clients one worker could be given most of them while another idled: the slow
  pages' p95 was up to twice their median. Now every request waits in the kernel's queue for the
  first free worker. Behind a reverse proxy (nginx opens a new connection to gunicorn for each
  request by default) nothing changes; browsers keep their connection to the proxy.
- Each worker compiles its templates and freezes the garbage collector's view of what it has
  loaded before it serves (``post_worker_init`` below): a full collection through the app's
  long-lived objects stopped a request for about 50 ms.
- A long timeout: an administrator's first sync of a large content tree, started from the
  browser, takes tens of seconds (``flask content sync`` from a shell has no limit).
"""
import multiprocessing

workers = 2 * multiprocessing.cpu_count()
worker_class = "gthread"
threads = 2
worker_connections = threads
keepalive = 0
timeout = 120


def post_worker_init(worker):
    """Compile the templates and take what the process holds out of the garbage collector's
    scans, once the app is loaded (``lms.settle_worker``; for any other Flask app, as the load
    benchmark's hello world, only the second)."""
    from flask import Flask

    if isinstance(worker.wsgi, Flask) and worker.wsgi.import_name == "lms":
        from lms import settle_worker

        settle_worker(worker.wsgi)
    else:
        import gc

        gc.collect()
        gc.freeze()
