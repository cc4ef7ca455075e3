"""The web application's templates, static files, words and rendering (the pages' routers are
in ``api.pages``)."""
