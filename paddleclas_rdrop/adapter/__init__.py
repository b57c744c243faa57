"""PaddleClas's side of the plugin: the YAML contract parsed once into `RDropSettings` (`settings`), every
config key declared once (`schema`), the one accessor of config sections (`sections`), what is known
of PaddleClas's models and the one model builder (`models`), the core's runner with its errors worded in
the YAML's keys (`runner`), the R-Drop train hook (`train_hook`), per-pass views (`views`), registration into
a PaddleClas source tree (`registry`), deep mutual learning (`mutual`), the class-balanced train sampler
(`balanced_sampler`) and the one set-and-restore of an attribute (`patch`). It imports the core only."""
