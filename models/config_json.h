#pragma once
/// The JSON form of the models' settings and reports, each struct's fields
/// listed once: to_json writes them, and json_io::read_fields reads them
/// back with unknown fields and wrong types refused (campaign settings,
/// saved ensembles, Python keyword arguments).

#include "models/gnn/ensemble.h"
#include "models/gp/exact_gp.h"
#include "models/gp/multitask_gp.h"

#include <nlohmann/json.hpp>

namespace sozai {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ExactGPConfig, kernel, outcome_transform, restarts, max_iter, seed,
                                                warm_start, lengthscale_min, lengthscale_max, outputscale_min,
                                                outputscale_max, noise_min, noise_max, predict_chunk)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MultiTaskGPConfig, num_tasks, rank, kernel, outcome_transform,
                                                restarts, max_iter, seed, noise_min, noise_max)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(GPHyperparameters, lengthscale, outputscale, noise)

namespace gnn {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(GraphModelConfig, kind, node_dim, edge_dim, condition_dim, hidden,
                                                layers, head_hidden, dropout, element_dim)
/// The training settings a saved ensemble keeps (not progress, threads or
/// the checkpoint path, which belong to the run).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TrainConfig, max_epochs, batch_size, lr, weight_decay, schedule,
                                                val_fraction, patience, clip_norm, warmup_mse_epochs, stopping)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(FinetuneConfig, pretrained, head, freeze_epochs, trunk_lr_scale)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(GnnEnsembleConfig, kind, n_members, seed, cutoff, max_neighbors,
                                                recalibrate, mc_dropout_samples, model, train, finetune)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TrainReport, max_epochs, patience, epochs, best_val_mae,
                                                member_variance_scale, ensemble_val_mae, variance_scale, seconds, stopping)

}  // namespace gnn
}  // namespace sozai
