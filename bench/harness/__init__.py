"""What the tests and the benchmarks both need to run a desk: its config file, a
`supportd run` as a child process, a throw-away Postfix, and the facts of the machine
a figure was taken on. Imports nothing itself."""
