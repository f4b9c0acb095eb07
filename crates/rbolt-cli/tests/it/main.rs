//! Integration tests of the `rbolt` binary: one module per subcommand.
