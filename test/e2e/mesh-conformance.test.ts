/**
 * The upstream Gateway API v1.6.1 mesh conformance suite (22 tests, 81 requests and two weight
 * distributions) on Weft in the local cluster, as part of the e2e tier. The suite itself, its
 * transcription checks and its environment switches are in test/conformance/ (see its README).
 */
import '../conformance/mesh-conformance.js';
