"""`sinefit serve`: the playground, gradient descent you can play with in the browser.

One idea per module, dependencies one way:

* ``rates``    the stable-lr bound and each eigen-direction's rate, from the library's ``stability``;
* ``uploads``  files dropped on the page, kept in memory only and read by ``io.datafiles``;
* ``paths``    any step of a run (closed form, the per-mode path kept, or recorded);
* ``runs``     the fit for the page's settings, the problem and the runs cached;
* ``stream``   the animation's frames, paced, a tab's newest stream winning;
* ``core``     the plain functions behind the endpoints: settings from the page, the views;
* ``app``      the ASGI app (Starlette): thin wrappers over ``core``, Host/Origin checks, limits;
* ``server``   start and stop it on a socket (the CLI's ``sinefit serve``, the tests).
"""
