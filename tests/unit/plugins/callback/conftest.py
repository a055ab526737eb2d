# -*- coding: utf-8 -*-
from __future__ import annotations

import os

import ansible_collections
from ansible.plugins.loader import init_plugin_loader
from ansible.utils.collection_loader import AnsibleCollectionConfig

# The callback's tests load real plays, which resolve ansible.builtin actions through the collection
# loader. ansible-test units installs it; a plain pytest run (PYTHONPATH=build/collections) does not.
if AnsibleCollectionConfig.collection_finder is None:
    init_plugin_loader([os.path.dirname(path) for path in ansible_collections.__path__])
