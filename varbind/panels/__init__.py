"""Model panels: where models come from and what ships with them.

``sources`` (panel names, bundles, DeepBind db folders -> :class:`~varbind.panels.sources.Panel`),
``bundle`` (the safetensors bundle format), ``nulls`` (null tables, percentiles, calibrated effects),
``jaspar`` (JASPAR PWMs as models), ``deepbind_db`` / ``deepbind_import`` (DeepBind releases).
"""
