"""What keeps a training run's files whole and its stops clean, for both engines: checkpoints written
whole or not at all and resumes checked against their schedule (`checkpoints`), SIGINT/SIGTERM at a safe
point (`signals`), weights that do not fit the model refused (`weights`). It imports the core only."""
