"""A script launched by ``torchrun`` in ``tests/test_ddp.py``: fits on every rank, saves results.

``torchrun --nproc_per_node=2 tests/_ddp_torchrun_child.py FOLDER`` reads ``FOLDER/X.npy`` and
``FOLDER/y.npy``, fits a ``BoostResNetRegressor`` with ``n_processes`` equal to the world size
(one model over the group) and one with ``n_processes=1`` (each rank alone), and writes each
rank's predictions (``ddp-<rank>.npy``, ``alone-<rank>.npy``) and rank 0's model (``ddp.pkl``).
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np

#: small and quick; the test fits the same with n_processes=1 in its own process
PARAMS = {
    "n_stages": 2,
    "d_block": 16,
    "epochs_per_stage": 5,
    "lr": 3e-2,
    "batch_size": 32,
    "random_state": 0,
}


def main(folder: Path) -> None:
    import torch.distributed as dist

    from fboost.boostresnet import BoostResNetRegressor

    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    X, y = np.load(folder / "X.npy"), np.load(folder / "y.npy")
    model = BoostResNetRegressor(**PARAMS, n_processes=world_size).fit(X, y)
    np.save(folder / f"ddp-{rank}.npy", model.predict(X))
    if rank == 0:
        (folder / "ddp.pkl").write_bytes(pickle.dumps(model))
    alone = BoostResNetRegressor(**PARAMS, n_processes=1).fit(X, y)
    np.save(folder / f"alone-{rank}.npy", alone.predict(X))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
