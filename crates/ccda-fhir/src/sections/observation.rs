//! Observation parts shared by results, vital signs, social history and assessments
//! (to be written).
