/* Olive's CompositeModel input_model, which the ComposeOnnxModels pass reads. */
#ifndef OLIVE_WORKFLOW_COMPOSITE_INPUT_H
#define OLIVE_WORKFLOW_COMPOSITE_INPUT_H

#include <jansson.h>

#include "workflow/workflow.h"

/* Reads a CompositeModel's fields (model_components: ONNXModel entries, model_component_names):
 * the first component becomes w->model_path (an ONNXModel), the others' model files
 * w->components (comma-separated). Errors: OLIVE_EUNSUPPORTED (a component that is not an
 * ONNXModel, model_attributes.llm_pipeline, a path with a comma), OLIVE_EINVALID (fewer than two
 * components, names that do not match), each naming the field; OLIVE_ENOMEM. */
int wf_parse_composite(olive_workflow *w, const json_t *fields);

/* With a CompositeModel input, hands the other components to the first pass of every flow
 * (its model-list parameter). Errors: OLIVE_EINVALID naming the first pass when it takes no
 * models (only ComposeOnnxModels does), or when there are no passes. */
int wf_apply_composite(olive_workflow *w);

/* Loads each later component (which checks it early) and refuses an output_dir or cache_dir
 * that is, holds or sits inside one of its files, as for the input model. Errors: those of
 * loading, naming the component; OLIVE_EINVALID naming the folder and the file. */
int wf_composite_check_apart(const olive_workflow *w);

#endif
