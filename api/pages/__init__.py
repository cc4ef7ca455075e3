"""The web application's pages, one router module per page group; they call the same
``layers`` functions, through the same scope filter, as the JSON API."""
