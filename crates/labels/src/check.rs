//! Check digits of the code systems that have them, so that a mistyped code in the data file is
//! an error when the file is compiled instead of a value set that silently never matches.

/// Why a code is not a well-formed code of its system.
pub(crate) type Malformed = &'static str;

/// A LOINC code: `NNNNN-C` with 1 to 7 digits before the hyphen and the mod-10 check digit after
/// it (LOINC Users' Guide, "Calculating Mod 10 check digits").
pub(crate) fn loinc(code: &str) -> Result<(), Malformed> {
    let Some((number, check)) = code.split_once('-') else {
        return Err("a LOINC code is digits, a hyphen and a check digit");
    };
    if number.is_empty()
        || number.len() > 7
        || !number.bytes().all(|b| b.is_ascii_digit())
        || check.len() != 1
        || !check.bytes().all(|b| b.is_ascii_digit())
    {
        return Err("a LOINC code is digits, a hyphen and a check digit");
    }
    if loinc_check_digit(number) != check.as_bytes()[0] - b'0' {
        return Err("wrong LOINC check digit");
    }
    Ok(())
}

/// The LOINC mod-10 check digit of the digits before the hyphen: the digits in odd positions
/// counted from the right, read as a number and doubled, written after the digits in even
/// positions; the check digit brings the sum of all those digits up to a multiple of ten.
fn loinc_check_digit(number: &str) -> u8 {
    let digits = number.as_bytes();
    let (mut odd, mut even) = (String::new(), String::new());
    for (i, &d) in digits.iter().enumerate() {
        let from_right = digits.len() - i; // 1-based position counted from the right
        if from_right % 2 == 1 {
            odd.push(d as char);
        } else {
            even.push(d as char);
        }
    }
    // At most 4 odd digits: the doubled number fits in a u32.
    let doubled = odd.parse::<u32>().unwrap_or(0) * 2;
    let sum: u32 = even
        .bytes()
        .map(|b| u32::from(b - b'0'))
        .chain(doubled.to_string().bytes().map(|b| u32::from(b - b'0')))
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// A SNOMED CT concept identifier: 6 to 18 digits, no leading zero, the partition identifier of
/// a concept (`00` in the International Edition, `10` in an extension) and a valid Verhoeff check
/// digit (SNOMED CT Technical Implementation Guide, "SCTID Data Type").
pub(crate) fn snomed_concept(code: &str) -> Result<(), Malformed> {
    let digits = code.as_bytes();
    if !(6..=18).contains(&digits.len())
        || !digits.iter().all(u8::is_ascii_digit)
        || digits[0] == b'0'
    {
        return Err("a SNOMED CT identifier is 6 to 18 digits without a leading zero");
    }
    let partition = &digits[digits.len() - 3..digits.len() - 1];
    if partition != b"00" && partition != b"10" {
        return Err("not a concept identifier (partition is neither 00 nor 10)");
    }
    if !verhoeff_valid(digits) {
        return Err("wrong SNOMED CT (Verhoeff) check digit");
    }
    Ok(())
}

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// Whether the digits, check digit last, pass the Verhoeff check.
fn verhoeff_valid(digits: &[u8]) -> bool {
    let mut c = 0u8;
    for (i, &d) in digits.iter().rev().enumerate() {
        c = VERHOEFF_D[usize::from(c)][usize::from(VERHOEFF_P[i % 8][usize::from(d - b'0')])];
    }
    c == 0
}

/// An RxNorm concept identifier (RXCUI): 1 to 8 digits. RxNorm has no check digit.
pub(crate) fn rxnorm(code: &str) -> Result<(), Malformed> {
    if code.is_empty() || code.len() > 8 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err("an RxNorm RXCUI is 1 to 8 digits");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loinc_check_digits() {
        // Worked example of the LOINC Users' Guide, and codes from the PHQ-9 panel.
        assert_eq!(loinc_check_digit("12345"), 5);
        for ok in ["44261-6", "44249-1", "44260-8", "70274-6", "8480-6"] {
            assert_eq!(loinc(ok), Ok(()), "{ok}");
        }
        assert_eq!(loinc("44261-5"), Err("wrong LOINC check digit"));
        for bad in ["44261", "-6", "44261-66", "4426a-6", "12345678-1", ""] {
            assert!(loinc(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn snomed_check_digits() {
        // Myocardial infarction, diabetes mellitus, depressive disorder, yes, negative, an
        // extension concept (US edition).
        for ok in [
            "22298006",
            "73211009",
            "35489007",
            "373066001",
            "260385009",
            "454711000124102",
        ] {
            assert_eq!(snomed_concept(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            snomed_concept("22298007"),
            Err("wrong SNOMED CT (Verhoeff) check digit")
        );
        // A description identifier (partition 01) is not a concept.
        assert!(snomed_concept("754723016").is_err());
        for bad in ["12345", "022298006", "2229800x", "1234567890123456789"] {
            assert!(snomed_concept(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn verhoeff_permutations_are_powers_of_the_generator() {
        // Row k is the generating permutation (1 5 8 9 4 2 7 0)(3 6) applied k times.
        for (k, rows) in VERHOEFF_P.windows(2).enumerate() {
            for (previous, next) in rows[0].iter().zip(rows[1]) {
                assert_eq!(next, VERHOEFF_P[1][usize::from(*previous)], "row {}", k + 1);
            }
        }
    }

    #[test]
    fn rxnorm_shape() {
        assert_eq!(rxnorm("1819"), Ok(()));
        assert!(rxnorm("").is_err());
        assert!(rxnorm("18a9").is_err());
        assert!(rxnorm("123456789").is_err());
    }
}
