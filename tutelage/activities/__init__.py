"""Thin adapters around I/O. Import `tutelage.activities.query` for the implementations;
this package's root stays light so workflows can import the names."""
