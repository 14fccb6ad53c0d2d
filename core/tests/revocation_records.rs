//! Revocation records accept only what a CRL can carry, when added and when loaded, so one
//! bad record can never make every later CRL impossible to build.

mod common;

use common::*;
use meshtls_core::{CrlParams, ErrorCode, RevocationList, RevocationReason, Serial, Timestamp};

fn serial(hex: &str) -> Serial {
    Serial::from_hex(hex).unwrap()
}

#[test]
fn the_first_and_last_time_a_crl_can_carry_are_recorded_and_built() {
    let ca = root();
    let mut list = RevocationList::new();
    for (hex, at) in [
        ("01", RevocationList::EARLIEST),
        ("02", RevocationList::LATEST),
    ] {
        assert!(list
            .revoke(serial(hex), RevocationReason::KeyCompromise, at)
            .unwrap());
    }
    let crl = ca.build_crl(&list, &CrlParams::new(1, NOW)).unwrap();
    let entries = crl.entries().unwrap();
    let times: Vec<i64> = entries.iter().map(|e| e.revoked_at.unix()).collect();
    assert!(times.contains(&0), "{times:?}");
    assert!(times.contains(&253_402_300_799), "{times:?}");
    // And the text form reads back.
    assert_eq!(RevocationList::from_text(&list.to_text()).unwrap(), list);
}

#[test]
fn a_time_outside_what_a_crl_can_carry_is_invalid_request_and_records_nothing() {
    let mut list = RevocationList::new();
    for at in [i64::MIN, -1, RevocationList::LATEST.unix() + 1, i64::MAX] {
        let e = list
            .revoke(
                serial("0a"),
                RevocationReason::KeyCompromise,
                Timestamp::from_unix(at),
            )
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidRequest, "{at}: {e}");
        assert!(list.is_empty(), "{at}: recorded anyway");
    }
    // The list is still usable.
    let ca = root();
    assert!(list
        .revoke(serial("0a"), RevocationReason::KeyCompromise, NOW)
        .unwrap());
    ca.build_crl(&list, &CrlParams::new(1, NOW)).unwrap();
}

#[test]
fn a_bad_line_in_the_text_form_is_refused_with_its_line_number() {
    let header = "# meshtls revocation records v1\ncrl_number 3\n";
    let cases = [
        // (line 4 holds the bad record; line 3 is good)
        ("0b -9223372036854775808 key_compromise", "line 4"),
        ("0b 253402300800 key_compromise", "line 4"),
        ("0b 1790000000 not_a_reason", "line 4"),
        ("zz 1790000000 key_compromise", "line 4"),
        ("0b 17900x0000 key_compromise", "line 4"),
        ("0a 1790000000 superseded", "line 4"), // the serial of line 3 again
        ("0b 1790000000", "line 4"),
    ];
    for (bad, line) in cases {
        let text = format!("{header}0a 1790000000 key_compromise\n{bad}\n");
        let e = RevocationList::from_text(&text).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Malformed, "{bad}: {e}");
        assert!(e.message().contains(line), "{bad}: {e}");
        assert!(e.message().contains(bad), "{bad}: {e}");
    }
    let good = format!("{header}0a 1790000000 key_compromise\n0b 0 superseded\n");
    assert_eq!(RevocationList::from_text(&good).unwrap().len(), 2);
}
