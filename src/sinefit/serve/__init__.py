"""`sinefit serve`: the playground, gradient descent you can play with in the browser.

One idea per module, dependencies one way:

* ``rates``    the stable-lr bound and each eigen-direction's rate, from the library's update rules;
* ``uploads``  files dropped on the page, kept in memory only and read by ``io.datafiles``;
* ``core``     the plain functions behind the endpoints: settings from the page, the fit, the views;
* ``app``      the ASGI app (Starlette): thin wrappers over ``core``, Host/Origin checks, limits;
* ``server``   start and stop it on a socket (the CLI's ``sinefit serve``, the tests).
"""
