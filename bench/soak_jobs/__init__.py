"""The soak (bench/soak.py) by job: the letters and their plan (`letters`, `mix`),
sending them to Postfix (`send`), watching Postfix, the outbox and the spool while it
runs (`watch`), accounting for every letter (`account`) and the table (`render`);
`desk` is the desk under test. Imports nothing itself."""
