"""The trained model after the study: frozen operating points, the model package, prediction.

``operating_points`` freezes the score thresholds on the validation split; ``package`` writes and
reads the model package (a MONAI-bundle-style folder and one archive: weights, ``model.yaml``,
metadata, the model card); ``predict`` runs a package on new cine loops through the study's own
de-identification, frame, inference and fusion code. The top layer: it may use every other one.
"""
