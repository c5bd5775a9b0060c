"""Loop's API as the pipeline uses it. Import from the modules (this package imports nothing, so
that reading `engine.loop.kinds` does not load httpx):

    engine.loop.client       LoopClient: request / upsert / upsert_child / upsert_variant /
                             put_inventory / get / get_by_external_id / delete / list_all /
                             list_children / list_path / map_concurrent; stats, budget
    engine.loop.kinds        KINDS, Kind: the one table of Loop's entity kinds
    engine.loop.errors       loop_error_text, path_template, load_error
    engine.loop.concurrent   map_concurrent

Budgets, retries, auth and redaction live in the shared HTTP toolkit, engine.net.
"""
