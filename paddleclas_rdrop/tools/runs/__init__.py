"""What keeps a training run's files whole and its stops clean, for both engines: checkpoints written whole or not at
all and resumes checked against their schedule (`checkpoints`), SIGINT/SIGTERM at a safe point (`signals`), and
outside training in one line (`interrupts`), weights that do not fit the model refused (`weights`), the guards of
every epoch (`guards`: reseeding, a stop at a non-finite loss), the one seeding function (`seeds`) and the log lines
in other words (`log`). It imports the adapter and the core."""
