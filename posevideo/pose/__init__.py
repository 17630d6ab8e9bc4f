"""The pose core: .pose IO (pose-format), layouts and conversions, normalization, operations
along time, hands at rest, retargeting onto another body. Arrays are xy (T, K, 2) float32 and conf (T, K) float32, conf 0 =
missing point; `.pose` files hold pixels of their video. See docs/INTERFACES.md, "Pose core"."""
from posevideo.pose.io import arrays, pose_from_arrays, read_pose, replace_arrays, write_pose
from posevideo.pose.layouts import (
    LAYOUTS, NUM_POINTS, Pair, face_mesh_ids, holistic_pose, layout_header, layout_of, limbs, make_pose, point_groups, point_index,
    shoulder_indices, to_layout, wrist_indices,
)
from posevideo.pose.motion import DEFAULT_CUTOFF_HZ, fill_gaps, resample, smooth
from posevideo.pose.normalize import NormStats, denormalize, normalize, place_by_shoulders
from posevideo.pose.rest import hand_frames, rest_hands
from posevideo.pose.retarget import BodyProfile, body_profile, retarget_pose, upright
from posevideo.pose.similarity import Similarity, fit_error, similarity_fit

__all__ = [
    "read_pose", "write_pose", "holistic_pose", "arrays", "replace_arrays", "pose_from_arrays", "make_pose",
    "LAYOUTS", "NUM_POINTS", "Pair", "layout_of", "to_layout", "layout_header", "limbs", "point_groups",
    "point_index", "face_mesh_ids", "shoulder_indices", "wrist_indices",
    "NormStats", "normalize", "denormalize", "place_by_shoulders",
    "resample", "smooth", "fill_gaps", "DEFAULT_CUTOFF_HZ",
    "rest_hands", "hand_frames",
    "BodyProfile", "body_profile", "retarget_pose", "upright",
    "Similarity", "similarity_fit", "fit_error",
]
