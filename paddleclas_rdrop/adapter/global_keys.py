"""The `Global` keys of the two engines, which the tools' typo check (`tools.typos`) reads without importing
either engine: the standalone engine's, with their defaults (`GLOBAL`), and those only PaddleClas's
Engine reads (`PADDLECLAS_GLOBAL`)."""

# `Global` keys PaddleClas's Engine reads (`grep -rhoE '\["Global"\](\.get\(|\[)"[a-z_]+' ppcls` in PaddleClas
# develop d178931), beyond those of `GLOBAL`.
PADDLECLAS_GLOBAL = {
    "distributed",
    "eval_mode",
    "export_for_fd",
    "feature_binarize",
    "feature_normalize",
    "hpi_config_path",
    "iter_per_epoch",
    "pdx_model_name",
    "print_mem_info",
    "re_ranking",
    "retrieval_feature_from",
    "sim_block_size",
    "to_static",
    "uniform_output_enabled",
    "use_dali",
    "use_multilabel",
    "warmup_iter",
}

GLOBAL = {
    "checkpoints": None,
    "pretrained_model": None,
    "output_dir": "./output/",
    "device": "cpu",
    "save_interval": 1,
    "eval_during_train": True,
    "eval_interval": 1,
    "epochs": 1,
    "print_batch_step": 10,
    "use_visualdl": False,
    "image_shape": [3, 224, 224],
    "save_inference_dir": "./inference",
    "train_mode": None,
    "seed": None,
    "update_freq": 1,
    "log_ranks": "0",
    "start_eval_epoch": 0,
    "class_num": None,
    "keep_checkpoint_max": None,
}
