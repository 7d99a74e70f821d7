"""The composition root: settings, wiring, the command line, the embedded Redis server and
the sample data. It imports everything; nothing imports it."""
