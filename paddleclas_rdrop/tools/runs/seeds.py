"""The one seeding of a tool's process: Paddle's, NumPy's and Python's generators from one seed."""


def seed_all(seed):
    """Seed paddle, numpy and `random` from `seed` (an int; False counts as 0); None seeds nothing."""
    if seed is None:
        return
    import random

    import numpy as np
    import paddle

    seed = int(seed)
    paddle.seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
