"""R-Drop in a plain Paddle training loop, without PaddleClas's engine: digits at 32x32.

python examples/own_loop.py --epochs 2
"""

import argparse

import numpy as np
import paddle
import paddle.nn.functional as F
from paddleclas.ppcls.arch.backbone import Res2Net50_vd_26w_4s

from paddleclas_rdrop import RDrop, RDropLoss
from paddleclas_rdrop.tools.data.demo import digits_images


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--alpha", type=float, default=0.6)
    args = parser.parse_args()

    paddle.seed(0)
    images, labels = digits_images(size=32)
    x = ((images.astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(0, 3, 1, 2)
    order = np.random.default_rng(0).permutation(len(x))
    train, val = order[:1437], order[1437:]

    model = Res2Net50_vd_26w_4s(class_num=10)
    rdrop = RDrop(model, passes=2, head_dropout=0.2)  # strategy auto -> shared_trunk here
    kl_loss = RDropLoss(reduction="batchmean", passes=rdrop.passes)
    optimizer = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())
    print(f"R-Drop: {rdrop.passes} passes, strategy {rdrop.strategy}, alpha {args.alpha}")
    for epoch in range(args.epochs):
        model.train()
        np.random.default_rng(epoch).shuffle(train)
        for start in range(0, len(train), args.batch_size):
            batch = train[start : start + args.batch_size]
            out = rdrop(paddle.to_tensor(x[batch]))  # k passes, stacked
            ce = F.cross_entropy(out, rdrop.repeat_labels(paddle.to_tensor(labels[batch, None])))
            kl = kl_loss(out, None)["RDropLoss"]
            loss = ce + args.alpha * kl
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
        model.eval()
        with paddle.no_grad():
            predicted = rdrop(paddle.to_tensor(x[val])).argmax(axis=1).numpy()  # one plain pass
        print(
            f"epoch {epoch + 1}: CE {float(ce):.4f}, KL {float(kl):.4f}, "
            f"val top-1 {(predicted == labels[val]).mean():.4f}"
        )


if __name__ == "__main__":
    main()
